export declare function buildCommit(root: string, env?: NodeJS.ProcessEnv): string;
