// Minimal types for fuse-native 2.2 (it ships none): the parts gproc uses.
declare module 'fuse-native' {
  interface FuseOptions {
    timeout?: number | false | Record<string, number | false>;
    force?: boolean;
    mkdir?: boolean;
    allowOther?: boolean;
    defaultPermissions?: boolean;
    fsname?: string;
    subtype?: string;
    entryTimeout?: number;
    attrTimeout?: number;
    debug?: boolean;
  }
  class Fuse {
    constructor(
      mountPoint: string,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- fuse-native passes each op its own arguments
      ops: Record<string, (...args: any[]) => void>,
      opts?: FuseOptions,
    );
    mount(cb: (err?: Error) => void): void;
    unmount(cb: (err?: Error) => void): void;
    _fuseOptions(): string;
    static unmount(mountPoint: string, cb: (err?: Error) => void): void;
  }
  export = Fuse;
}
