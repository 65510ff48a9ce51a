// The keyring protocol entry: the executable's name picks the protocol (docs/protocols.md §6).
import { runEntry } from '../client/run.js';
import { keyring } from '../protocols/keyring.js';

void runEntry(keyring);
