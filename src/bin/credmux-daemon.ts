// `credmux-daemon`: the per-user daemon, started detached by the first helper that finds none (or by
// `credmux daemon start`). It exits on its own after CREDMUX_IDLE_TIMEOUT seconds without requests.
import { runDaemon } from '../daemon/control.js';

void runDaemon(process.env).then(
  (code) => process.exit(code),
  () => process.exit(70),
);
