import type {
  AddProviderInput,
  GrantInfo,
  KeyInfo,
  LimitsChange,
  ProviderInfo,
  ProviderTestResult,
} from '../../preload/contract.js';
import type { AccountService } from '../account/account-service.js';
import { toGrantInfo, toKeyInfo, toProviderInfo } from './app-state.js';
import type { CoreMemory, CoreSettings } from './core-memory.js';
import { addProviderSchema, idSchema, limitsChangeSchema, parseInput } from './input-validation.js';

/**
 * The user's keys, OAuth grants and provider connections on the server (keys and connections
 * remembered for the state).
 */
export interface AccountResources {
  listKeys(): Promise<KeyInfo[]>;
  setKeyLimits(id: string, limits: LimitsChange): Promise<KeyInfo[]>;
  listGrants(): Promise<GrantInfo[]>;
  revokeGrant(id: string): Promise<GrantInfo[]>;
  setGrantLimits(id: string, limits: LimitsChange): Promise<GrantInfo[]>;
  listProviders(): Promise<ProviderInfo[]>;
  addProvider(input: AddProviderInput): Promise<ProviderInfo>;
  testProvider(id: string): Promise<ProviderTestResult>;
  removeProvider(id: string): Promise<ProviderInfo[]>;
}

export function createAccountResources(options: {
  memory: CoreMemory;
  settings: CoreSettings;
  account: AccountService;
  /** Something changed that the state shows. */
  changed: () => void;
}): AccountResources {
  const { memory, settings, account, changed } = options;

  async function listProviders(): Promise<ProviderInfo[]> {
    memory.providers = await account.listProviders();
    return memory.providers.map(toProviderInfo);
  }

  async function listKeys(): Promise<KeyInfo[]> {
    memory.keys = await account.listKeys();
    const s = await settings.cached();
    return memory.keys.map((key) => toKeyInfo(key, s.machineKey?.id ?? null));
  }

  async function listGrants(): Promise<GrantInfo[]> {
    return (await account.listGrants()).map(toGrantInfo);
  }

  return {
    listKeys,

    async setKeyLimits(id, limits) {
      await account.setKeyLimits(
        parseInput(idSchema, id, 'key id'),
        validLimitsChange(limits, 'key limits'),
      );
      const list = await listKeys();
      changed();
      return list;
    },

    listGrants,

    async revokeGrant(id) {
      await account.revokeGrant(parseInput(idSchema, id, 'grant id'));
      return listGrants();
    },

    async setGrantLimits(id, limits) {
      await account.setGrantLimits(
        parseInput(idSchema, id, 'grant id'),
        validLimitsChange(limits, 'grant limits'),
      );
      return listGrants();
    },

    listProviders,

    async addProvider(input) {
      const valid = parseInput(addProviderSchema, input, 'provider');
      const created = await account.addProvider(valid);
      await listProviders().catch(() => undefined);
      changed();
      return toProviderInfo(created);
    },

    async testProvider(id) {
      const result = await account.testProvider(parseInput(idSchema, id, 'provider id'));
      await listProviders().catch(() => undefined);
      changed();
      return {
        ok: result.ok,
        message: result.message,
        ...(typeof result.account === 'string' ? { account: result.account } : {}),
      };
    },

    async removeProvider(id) {
      await account.removeProvider(parseInput(idSchema, id, 'provider id'));
      const list = await listProviders();
      changed();
      return list;
    },
  };
}

/** A key's or a grant's limits change, checked, with the absent limits left out. */
function validLimitsChange(limits: LimitsChange, what: string): LimitsChange {
  const valid = parseInput(limitsChangeSchema, limits, what);
  return {
    ...(valid.allowedTools !== undefined ? { allowedTools: valid.allowedTools } : {}),
    ...(valid.allowedProjects !== undefined ? { allowedProjects: valid.allowedProjects } : {}),
  };
}
