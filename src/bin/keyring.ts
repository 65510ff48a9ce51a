// The keyring protocol entry: the executable's name picks the protocol (DESIGN.md "Layout").
import { runEntry } from '../client/run.js';
import { keyring } from '../protocols/keyring.js';

void runEntry(keyring);
