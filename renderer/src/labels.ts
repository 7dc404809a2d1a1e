import type { ProviderType } from '../../preload/contract';

export const providerTypeLabels: Record<ProviderType, string> = {
  jira: 'Jira Cloud',
  jira_server: 'Jira Data Center',
  openproject: 'OpenProject',
};
