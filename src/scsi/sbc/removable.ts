/**
 * Removable-medium emulation for an LU configured `removable` (INQUIRY RMB = 1): START STOP UNIT
 * with LOEJ ejects and loads the medium, PREVENT ALLOW MEDIUM REMOVAL blocks that per I_T nexus
 * (SPC-4: removal is prevented while any nexus prevents it), and medium-access commands answer
 * NOT READY, MEDIUM NOT PRESENT while ejected. Prevention ends with the nexus and with a reset.
 */
export class RemovableMedium {
  present = true;
  private readonly preventing = new Set<number>();

  get prevented(): boolean {
    return this.preventing.size > 0;
  }

  setPrevent(nexusId: number, prevent: boolean): void {
    if (prevent) this.preventing.add(nexusId);
    else this.preventing.delete(nexusId);
  }

  /** I_T nexus loss (logout, dropped connection). */
  forget(nexusId: number): void {
    this.preventing.delete(nexusId);
  }

  /** LOGICAL UNIT RESET / TARGET RESET (SBC-4: the prevent state is cleared; the medium stays as it is). */
  reset(): void {
    this.preventing.clear();
  }
}

/**
 * Opcodes that touch the medium (SBC-4 "medium access commands"): refused while it is ejected.
 * INQUIRY, REPORT LUNS, REQUEST SENSE, MODE SENSE/SELECT, LOG SENSE, START STOP UNIT,
 * PREVENT ALLOW, REPORT SUPPORTED *, READ DEFECT DATA and reservations still work.
 */
export const MEDIUM_ACCESS_OPCODES: ReadonlySet<number> = new Set([
  0x00, // TEST UNIT READY
  0x08, 0x28, 0xa8, 0x88, // READ
  0x0a, 0x2a, 0xaa, 0x8a, // WRITE
  0x2e, 0xae, 0x8e, // WRITE AND VERIFY
  0x2f, 0xaf, 0x8f, // VERIFY
  0x25, 0x9e, // READ CAPACITY(10), SERVICE ACTION IN(16): READ CAPACITY(16), GET LBA STATUS
  0x34, 0x90, // PRE-FETCH
  0x35, 0x91, // SYNCHRONIZE CACHE
  0x41, 0x93, 0x42, // WRITE SAME, UNMAP
  0x89, 0x8b, // COMPARE AND WRITE, ORWRITE
  0x9c, // WRITE ATOMIC(16)
  0x48, // SANITIZE
]);
