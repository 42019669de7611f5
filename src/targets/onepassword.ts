// PLACEHOLDER until the onepassword connector lands: replaced by its real implementation.
import type { ConnectorKind } from './connector.js';

export const onepassword: ConnectorKind = {
  kind: 'onepassword',
  validate() {
    throw new Error('onepassword: not built yet');
  },
  create() {
    throw new Error('onepassword: not built yet');
  },
};
