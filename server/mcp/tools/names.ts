/** Every PM tool's name (SPEC §3.7), with no dependency: configuration and policies check names. */
export const readToolNames = [
  'list_providers',
  'list_projects',
  'search_issues',
  'list_my_issues',
  'get_issue',
  'find_users',
  'list_versions',
] as const;

export const writeToolNames = [
  'create_issue',
  'update_issue',
  'transition_issue',
  'add_comment',
  'log_work',
  'link_issues',
] as const;

export const allToolNames: readonly string[] = [...readToolNames, ...writeToolNames];
