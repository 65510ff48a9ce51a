// The kubectl exec credential plugin entry: the executable's name picks the protocol (docs/protocols.md §6, §11).
import { runEntry } from '../client/run.js';
import { kubectl } from '../protocols/kubectl.js';

void runEntry(kubectl);
