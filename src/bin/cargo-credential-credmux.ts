// The cargo credential-provider entry: the executable's name picks the protocol (docs/protocols.md §6);
// cargo runs it with `--cargo-plugin` and talks JSON lines (§7).
import { runConversation } from '../client/conversation.js';
import { cargo } from '../protocols/cargo.js';

void runConversation(cargo);
