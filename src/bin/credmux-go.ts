// The Go GOAUTH entry: the executable's name picks the protocol (docs/protocols.md §6, §9).
import { runEntry } from '../client/run.js';
import { go } from '../protocols/go.js';

void runEntry(go);
