/** `scatter lun add|remove|resize|list` — /v1/targets/{iqn}/luns. */
import { InvalidArgumentError, type Command } from 'commander';
import { apiPath } from '../api-client.js';
import { act, reportDelete, reportWrite, show } from '../context.js';
import { table } from '../format.js';
import { addBackstoreOptions, addIfMatch, inlineBackstore, checkedSize, parseLun, type BackstoreOpts } from './options.js';
import { backstoreSummary, type Lun } from './resources.js';

interface AddOpts extends BackstoreOpts {
  backstore?: string;
  readOnly?: boolean;
  removable?: boolean;
  serial?: string;
  ifMatch?: string;
}

export function registerLun(program: Command): void {
  const lun = program.command('lun').description('logical units of a target (add, remove, resize, list)');

  addIfMatch(
    addBackstoreOptions(
      lun
        .command('add <iqn> <lun>')
        .description('add LUN <lun> (0-16383) backed by a named backstore (--backstore) or an inline one (--file/--block/--null)')
        .option('--backstore <name>', 'a backstore made with `scatter backstore create`'),
    )
      .option('--read-only', 'write-protected')
      .option('--removable', 'removable medium (START STOP UNIT ejects)')
      .option('--serial <serial>', 'unit serial number (VPD 80h)'),
  ).action(
    act(async (ctx, iqn: string, lunText: string, o: AddOpts) => {
      const n = parseLun(lunText);
      const inline = inlineBackstore(o);
      if ((inline === undefined) === (o.backstore === undefined)) throw new InvalidArgumentError('give --backstore <name> or one of --file, --block, --null');
      const body: Record<string, unknown> = { lun: n, backstore: o.backstore ?? inline };
      if (o.readOnly) body.readOnly = true;
      if (o.removable) body.removable = true;
      if (o.serial !== undefined) body.serial = o.serial;
      const res = await ctx.api.request('PUT', apiPath('targets', iqn, 'luns', n), {
        body,
        ...(o.ifMatch !== undefined ? { ifMatch: o.ifMatch } : { ifNoneMatch: '*' }),
      });
      reportWrite(ctx, res, `LUN ${n} of ${iqn}`);
    }),
  );

  addIfMatch(lun.command('remove <iqn> <lun>').alias('rm').description('remove a LUN (its named backstore stays)')).action(
    act(async (ctx, iqn: string, n: string, o: { ifMatch?: string }) => {
      const num = parseLun(n);
      await ctx.api.request('DELETE', apiPath('targets', iqn, 'luns', num), { ifMatch: o.ifMatch });
      reportDelete(ctx, `LUN ${num} of ${iqn}`);
    }),
  );

  addIfMatch(
    lun.command('resize <iqn> <lun> <size>').description('grow a LUN to <size> (e.g. 20G); shrinking is refused (exit 4)'),
  ).action(
    act(async (ctx, iqn: string, n: string, size: string, o: { ifMatch?: string }) => {
      const num = parseLun(n);
      const newSize = checkedSize(size);
      // An inline backstore is resized through the LUN; a named one through the backstore.
      const current = (await ctx.api.request('GET', apiPath('targets', iqn, 'luns', num))).body as Lun;
      const res =
        typeof current.backstore === 'string'
          ? await ctx.api.request('PATCH', apiPath('backstores', current.backstore), { body: { size: newSize }, mergePatch: true, ifMatch: o.ifMatch })
          : await ctx.api.request('PATCH', apiPath('targets', iqn, 'luns', num), { body: { backstore: { size: newSize } }, mergePatch: true, ifMatch: o.ifMatch });
      reportWrite(ctx, res, `LUN ${num} of ${iqn} (size ${newSize})`);
    }),
  );

  lun
    .command('list <iqn>')
    .alias('ls')
    .description('the LUNs of a target')
    .action(
      act(async (ctx, iqn: string) => {
        const luns = (await ctx.api.request('GET', apiPath('targets', iqn, 'luns'))).body as Lun[];
        show(ctx, luns, () =>
          table(['LUN', 'BACKSTORE', 'TYPE', 'SIZE', 'PATH', 'MODE'], luns.map((l) => {
            const b = backstoreSummary(l.backstore);
            return [l.lun, b.name, b.type, b.size, b.path, l.readOnly ? 'ro' : 'rw'];
          })),
        );
      }),
    );
}
