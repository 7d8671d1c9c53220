// The LoopStore contract against the embedded default (node:sqlite).
import { join } from 'node:path';
import { SqliteStore } from '../../host/store/sqlite.js';
import { tempDir } from '../integration/harness.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('sqlite', { open: async () => new SqliteStore(join(tempDir(), 'loopd.db')) });
