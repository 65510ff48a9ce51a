// The git protocol entry: the executable's name picks the protocol (docs/protocols.md §6).
import { runEntry } from '../client/run.js';
import { git } from '../protocols/git.js';

void runEntry(git);
