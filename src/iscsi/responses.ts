import type { ScsiResponse } from '../scsi/command.js';
import { ScsiStatus } from '../scsi/command.js';
import type { CmdSnWindow } from './cmdsn-window.js';
import type { ConnectionLink } from './connection-link.js';
import type { SessionParams } from './session-params.js';
import { encodeDataIn, encodeScsiResponse } from './pdu.js';
import type { IscsiTask } from './task.js';

/**
 * Data-In for a read: views of the read SG vector cut to the initiator's
 * MaxRecvDataSegmentLength, F at the end of every MaxBurstLength sequence,
 * and GOOD status collapsed into the last PDU. The pages go back once the
 * socket has taken the last byte.
 */
export function sendDataIn(
  conn: ConnectionLink,
  window: CmdSnWindow,
  params: SessionParams,
  task: IscsiTask,
  response: ScsiResponse,
): void {
  const data = response.dataIn!;
  const edtl = task.command.expectedDataInLength;
  const length = Math.min(data.length, edtl);
  const residual = edtl - data.length;
  const collapse = response.status === ScsiStatus.GOOD && !response.sense;
  const maxSeg = params.maxXmitDataSegmentLength;
  const burst = params.maxBurstLength;
  let offset = 0;
  while (offset < length) {
    const burstEnd = Math.min(length, (Math.floor(offset / burst) + 1) * burst);
    const n = Math.min(maxSeg, burstEnd - offset);
    const last = offset + n >= length;
    const endOfSequence = last || offset + n >= burstEnd;
    const withStatus = last && collapse;
    conn.send(
      encodeDataIn({
        itt: task.itt,
        lun: task.lun,
        final: endOfSequence,
        status: withStatus ? response.status : undefined,
        residual,
        statSN: withStatus ? conn.takeStatSN() : 0,
        expCmdSN: window.expCmdSN,
        maxCmdSN: window.maxCmdSN,
        dataSN: task.dataSN++,
        bufferOffset: offset,
        dataLength: n,
      }),
      offset === 0 && n === data.length ? data : data.slice(offset, n),
      last ? response.release : undefined,
    );
    offset += n;
  }
  if (!collapse) sendScsiResponse(conn, window, task, response, residual);
}

/** A SCSI Response PDU; sense data travels behind a two-byte SenseLength. */
export function sendScsiResponse(
  conn: ConnectionLink,
  window: CmdSnWindow,
  task: IscsiTask,
  response: ScsiResponse,
  residual: number,
): void {
  let data: Buffer | undefined;
  if (response.sense && response.sense.length > 0) {
    data = Buffer.allocUnsafe(2 + response.sense.length);
    data.writeUInt16BE(response.sense.length, 0);
    response.sense.copy(data, 2);
  }
  conn.send(
    encodeScsiResponse({
      itt: task.itt,
      response: 0,
      status: response.status,
      residual,
      statSN: conn.takeStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      expDataSN: task.dataSN,
      dataLength: data?.length ?? 0,
    }),
    data,
  );
}
