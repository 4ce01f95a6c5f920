/** One vectored syscall against a backstore: `segments` are read into / written from `offset` on. */
export interface Bio {
  /** Byte position on the device. */
  readonly offset: number;
  /** Memory views; their lengths add up to `length`. */
  readonly segments: Buffer[];
  readonly length: number;
}
