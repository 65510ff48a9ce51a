export declare const MAY_IMPORT: Record<string, string[]>;
export declare function layerOrder(graph?: Record<string, string[]>): string[];
export declare const folderLayers: { plugin: object };
