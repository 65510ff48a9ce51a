// The pnpm tokenHelper entry: `credmux-pnpm <registry-url>`, run by the wrapper `credmux setup pnpm`
// writes per registry (docs/protocols.md §13). The executable's name picks the protocol (§6).
import { runEntry } from '../client/run.js';
import { pnpm } from '../protocols/pnpm.js';

void runEntry(pnpm);
