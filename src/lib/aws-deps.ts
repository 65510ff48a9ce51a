// dist/lib/aws-deps.cjs: the SigV4 signer (aws4), bundled on its own so that only a rule of type
// "aws" that signs loads it (src/sources/aws/deps.ts). aws4 over the modular AWS SDK's
// @smithy/signature-v4, by measurement (docs/performance.md, "AWS signing"): 11 KB bundled against
// 253 KB, about 3.5 ms to require against 15 ms.
import aws4 from 'aws4';

export const sign = aws4.sign;
