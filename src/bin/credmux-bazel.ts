// The bazel protocol entry: the executable's name picks the protocol (docs/protocols.md §6).
import { runEntry } from '../client/run.js';
import { bazel } from '../protocols/bazel.js';

void runEntry(bazel);
