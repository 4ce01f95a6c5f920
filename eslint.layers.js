/**
 * The layers of src/ and which may import which (docs/architecture.md, "Layers"):
 *   cli -> server -> admin -> {control, metrics} -> runtime -> iscsi -> scsi -> block <- backstore,
 * admin and metrics also reading iscsi directly (sessions, login attempts, counters),
 * with config, shared helpers and native (FFI) at the bottom; cluster (etcd coordination) sits beside
 * the planes, used by server. Each folder lists what it may import;
 * everything else is forbidden by import-x/no-restricted-paths.
 */
export const LAYERS = {
  shared: [],
  native: ['shared'],
  config: ['shared'],
  block: ['shared', 'native', 'config'],
  backstore: ['block', 'shared', 'native', 'config'],
  scsi: ['block', 'shared', 'native', 'config'],
  iscsi: ['scsi', 'block', 'shared', 'native', 'config'],
  runtime: ['iscsi', 'scsi', 'block', 'backstore', 'shared', 'native', 'config'],
  metrics: ['runtime', 'iscsi', 'scsi', 'block', 'shared', 'config'],
  control: ['runtime', 'shared', 'config'],
  // cluster mode's etcd coordination: it implements scsi's ALUA provider and reservation store.
  cluster: ['scsi', 'block', 'shared', 'config'],
  // admin reads live iSCSI state (sessions, login attempts) and changes the target through control.
  admin: ['control', 'metrics', 'runtime', 'iscsi', 'shared', 'config'],
  server: ['admin', 'metrics', 'control', 'cluster', 'runtime', 'iscsi', 'scsi', 'block', 'backstore', 'shared', 'native', 'config'],
  cli: ['server', 'shared', 'config'],
};

/** Inside the SCSI core: disk (SBC) and primary (SPC) command code never import each other. */
const SIBLINGS = [
  ['scsi/spc', 'scsi/sbc'],
  ['scsi/sbc', 'scsi/spc'],
];

export function layerZones() {
  const names = Object.keys(LAYERS);
  const zones = [];
  for (const [layer, allowed] of Object.entries(LAYERS)) {
    const from = names.filter((n) => n !== layer && !allowed.includes(n)).map((n) => `./src/${n}`);
    zones.push({ target: `./src/${layer}`, from, message: `src/${layer} may import only ${allowed.join(', ') || 'nothing else in src'} (docs/architecture.md)` });
  }
  for (const [target, from] of SIBLINGS) {
    zones.push({ target: `./src/${target}`, from: `./src/${from}`, message: `${target} must not import ${from}: share through a neutral scsi module` });
  }
  return zones;
}

/** Only the planes talk to the outside world's libraries; only src/cluster talks to etcd. */
export function restrictedPackages() {
  const rule = (paths) => ['error', { paths }];
  const plane = (name) => ({ name, message: `${name} belongs to the admin or metrics plane` });
  const etcd = { name: 'etcd3', message: 'etcd3 belongs to src/cluster (NodeLease and its siblings), nowhere else' };
  return [
    {
      files: ['src/**/*.ts'],
      ignores: ['src/metrics/**', 'src/admin/**', 'src/server/**', 'src/cluster/**'],
      rules: { 'no-restricted-imports': rule([plane('prom-client'), plane('fastify'), etcd]) },
    },
    { files: ['src/metrics/**/*.ts'], rules: { 'no-restricted-imports': rule([plane('fastify'), etcd]) } },
    { files: ['src/admin/**/*.ts', 'src/server/**/*.ts'], rules: { 'no-restricted-imports': rule([etcd]) } },
    { files: ['src/cluster/**/*.ts'], rules: { 'no-restricted-imports': rule([plane('prom-client'), plane('fastify')]) } },
  ];
}
