// The docker protocol entry: the executable's name picks the protocol (docs/protocols.md §6).
import { runEntry } from '../client/run.js';
import { docker } from '../protocols/docker.js';

void runEntry(docker);
