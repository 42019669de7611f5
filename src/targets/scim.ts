// PLACEHOLDER until the scim connector lands: replaced by its real implementation.
import type { ConnectorKind } from './connector.js';

export const scim: ConnectorKind = {
  kind: 'scim',
  validate() {
    throw new Error('scim: not built yet');
  },
  create() {
    throw new Error('scim: not built yet');
  },
};
