// The in-memory NftPort passes the same contract as nft(8) in a namespace
// (test/netns/firewall-nft.test.ts), so the service tests that use it stand for the real thing.

import { FakeNft } from '../../../firmware/firewall/fake.js';
import { nftContract } from './nft-contract.js';

nftContract('FakeNft', async () => ({ port: new FakeNft(), dispose: async () => undefined }));
