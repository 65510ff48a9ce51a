import type { FileSpec, LinkSpec } from './transaction.js';

export interface SetupOptions {
  dryRun: boolean;
  undo: boolean;
  /** bazel: edit DIR/.bazelrc instead of ~/.bazelrc. */
  workspace?: string;
  /** bazel: also write one unscoped helper line (serves localhost, IPs and every unscoped host). */
  unscoped?: boolean;
  /** Machine-readable output. */
  json?: boolean;
  /** kubectl: the kubeconfig context to wire (or, with --undo, to take out). */
  context?: string;
}

/** What one tool's setup edits, and what it tells the person around it. */
export interface ToolPlan {
  /** Each file keeps its own `owned` type; only that file's apply/revert ever see it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- revert takes O, so FileSpec<X> is not a FileSpec<unknown>
  files: FileSpec<any>[];
  links: LinkSpec[];
  /** What was wired, and how the tool will use it. */
  notes: string[];
  /** Something the person must do, or something that could not be wired (with the command that fixes it). */
  warnings: string[];
  /**
   * --undo that takes out only part of what setup wired (kubectl --context NAME): the files are
   * recomputed without it, as a setup run would, instead of being restored whole.
   */
  undoByApplying?: boolean;
}
