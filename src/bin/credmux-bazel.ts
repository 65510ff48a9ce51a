// The bazel protocol entry: the executable's name picks the protocol (DESIGN.md "Layout").
import { runEntry } from '../client/run.js';
import { bazel } from '../protocols/bazel.js';

void runEntry(bazel);
