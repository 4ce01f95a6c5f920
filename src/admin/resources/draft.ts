/**
 * An edit of the desired config in its file form (named backstores by name, as the API shows
 * them), validated whole when done: a resource edit gets exactly the checks a config file gets.
 */
import { toFileForm } from '../../config/file-form.js';
import { ConfigError, validateConfig } from '../../config/load.js';
import type { Config, ConfigInput } from '../../config/schema.js';
import { ApiProblem } from '../problem.js';

type Input<T> = T extends readonly (infer E)[] ? E : never;
export type TargetInput = Input<NonNullable<ConfigInput['targets']>>;
export type LunInput = Input<NonNullable<TargetInput['luns']>>;
/** The schema preprocesses backstores (YAML's `type: null`), so zod cannot type their input: this is it. */
export type BackstoreInput = { name: string; type: string } & Record<string, unknown>;
export type IscsiInput = NonNullable<ConfigInput['iscsi']>;
export type PortalInput = Input<NonNullable<IscsiInput['portals']>>;

export class Draft {
  readonly targets: TargetInput[];
  readonly backstores: BackstoreInput[];
  iscsi: IscsiInput;
  private readonly rest: ConfigInput;

  private constructor(form: ConfigInput) {
    this.rest = form;
    this.targets = form.targets ?? [];
    this.backstores = (form.backstores ?? []) as BackstoreInput[];
    this.iscsi = form.iscsi ?? {};
  }

  static of(desired: Config): Draft {
    return new Draft(structuredClone(toFileForm(desired)));
  }

  set discoveryAuth(auth: ConfigInput['discoveryAuth']) {
    this.rest.discoveryAuth = auth;
  }

  target(iqn: string): TargetInput | undefined {
    return this.targets.find((t) => t.iqn.toLowerCase() === iqn.toLowerCase());
  }

  backstore(name: string): BackstoreInput | undefined {
    return this.backstores.find((b) => b.name === name);
  }

  /** The edited config, validated; a problem is a 400 naming the config path of every bad field. */
  finish(): Config {
    try {
      return validateConfig({ ...this.rest, targets: this.targets, backstores: this.backstores, iscsi: this.iscsi }, 'request');
    } catch (err) {
      if (err instanceof ConfigError) {
        const errors = err.issues.map((issue) => ({ path: issue.path, rule: 'config', message: issue.message }));
        throw new ApiProblem('validation', `the resulting config does not validate: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors, cause: err });
      }
      throw err;
    }
  }
}
