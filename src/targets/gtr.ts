// PLACEHOLDER until the gtr connector lands: replaced by its real implementation.
import type { ConnectorKind } from './connector.js';

export const gtr: ConnectorKind = {
  kind: 'gtr',
  validate() {
    throw new Error('gtr: not built yet');
  },
  create() {
    throw new Error('gtr: not built yet');
  },
};
