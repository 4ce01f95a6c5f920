/**
 * Removable-medium emulation for an LU configured `removable` (INQUIRY RMB = 1): START STOP UNIT
 * with LOEJ ejects and loads the medium, PREVENT ALLOW MEDIUM REMOVAL blocks that per I_T nexus
 * (SPC-4: removal is prevented while any nexus prevents it), and medium-access commands answer
 * NOT READY, MEDIUM NOT PRESENT while ejected (medium-gate.ts). Prevention ends with the nexus and with a reset.
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
