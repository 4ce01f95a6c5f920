/** `scatter backstore create|list|show|resize|delete` — /v1/backstores (named storage a LUN refers to). */
import type { Command } from 'commander';
import { apiPath } from '../api-client.js';
import { act, reportDelete, reportWrite, show } from '../context.js';
import { UsageError } from '../errors.js';
import { fields, humanSize, table } from '../format.js';
import { addBackstoreOptions, addIfMatch, checkedSize, inlineBackstore, type BackstoreOpts } from './options.js';
import type { Backstore } from './resources.js';

export function registerBackstore(program: Command): void {
  const bs = program.command('backstore').description('named backstores (create, list, show, resize, delete)');

  addIfMatch(
    addBackstoreOptions(bs.command('create <name>').description('create a backstore: --file PATH --size S | --block DEV | --null --size S (exit 5 if it exists)')),
  ).action(
    act(async (ctx, name: string, o: BackstoreOpts & { ifMatch?: string }) => {
      const def = inlineBackstore(o);
      if (def === undefined) throw new UsageError('give one of --file, --block, --null');
      const res = await ctx.api.request('PUT', apiPath('backstores', name), {
        body: { name, ...def },
        ...(o.ifMatch !== undefined ? { ifMatch: o.ifMatch } : { ifNoneMatch: '*' }),
      });
      reportWrite(ctx, res, `backstore ${name}`);
    }),
  );

  bs.command('list')
    .alias('ls')
    .description('all named backstores and the LUN using each')
    .action(
      act(async (ctx) => {
        const list = (await ctx.api.request('GET', apiPath('backstores'))).body as Backstore[];
        show(ctx, list, () =>
          table(
            ['NAME', 'TYPE', 'SIZE', 'PATH', 'USED BY'],
            list.map((b) => [b.name, b.type, humanSize(b.size), b.path, b.usedBy ? `${b.usedBy.target} LUN ${b.usedBy.lun}` : '']),
          ),
        );
      }),
    );

  bs.command('show <name>')
    .description('one backstore')
    .action(
      act(async (ctx, name: string) => {
        const res = await ctx.api.request('GET', apiPath('backstores', name));
        const b = res.body as Backstore;
        show(ctx, b, () =>
          fields([
            ['name', b.name],
            ['type', b.type],
            ['size', humanSize(b.size)],
            ['path', b.path],
            ['blockSize', b.blockSize],
            ['usedBy', b.usedBy ? `${b.usedBy.target} LUN ${b.usedBy.lun}` : undefined],
            ['etag', res.etag],
          ]),
        );
      }),
    );

  addIfMatch(bs.command('resize <name> <size>').description('grow a backstore to <size> (e.g. 20G); shrinking is refused (exit 4)')).action(
    act(async (ctx, name: string, size: string, o: { ifMatch?: string }) => {
      const newSize = checkedSize(size);
      const res = await ctx.api.request('PATCH', apiPath('backstores', name), { body: { size: newSize }, mergePatch: true, ifMatch: o.ifMatch });
      reportWrite(ctx, res, `backstore ${name} (size ${newSize})`);
    }),
  );

  addIfMatch(
    bs
      .command('delete <name>')
      .alias('rm')
      .description('delete a backstore (exit 4 while a LUN uses it, unless --force)')
      .option('--force', 'remove the LUN that uses it too'),
  ).action(
    act(async (ctx, name: string, o: { force?: boolean; ifMatch?: string }) => {
      await ctx.api.request('DELETE', apiPath('backstores', name), { query: { force: o.force ? 'true' : undefined }, ifMatch: o.ifMatch });
      reportDelete(ctx, `backstore ${name}`);
    }),
  );
}
