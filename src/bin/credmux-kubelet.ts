// The kubelet image credential provider entry: the executable's name picks the protocol (docs/protocols.md §6, §12).
import { runEntry } from '../client/run.js';
import { kubelet } from '../protocols/kubelet.js';

void runEntry(kubelet);
