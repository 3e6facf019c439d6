'use strict';

/**
 * Runs serverless/plugins/glue-assets.js's deploy steps against the local AWS's S3, the way
 * `sls deploy` runs them (package, upload, then tag what the deploy superseded), for each
 * script text given, one deploy after another. Used by test_glue_assets.py.
 *
 *   node glue_assets_deploys.js <repo> <endpoint> <bucket> <work dir> <script text>...
 *
 * Prints one JSON line per deploy: {"script": key, "library": key}.
 */

const fs = require('node:fs');
const path = require('node:path');

const [repo, endpoint, bucket, workDir, ...scripts] = process.argv.slice(2);
const AWS = require(path.join(repo, 'node_modules', 'aws-sdk'));
const GlueAssetsPlugin = require(path.join(repo, 'serverless', 'plugins', 'glue-assets.js'));

const s3 = new AWS.S3({
  endpoint,
  s3ForcePathStyle: true,
  region: 'us-east-1',
  accessKeyId: 'test',
  secretAccessKey: 'test',
});

/** The parts of the framework the plugin uses; its AWS calls reach S3 as provider.request does. */
function framework(serviceDir) {
  const provider = {
    request: async (service, method, params) => {
      if (service !== 'S3') throw new Error(`unexpected ${service}.${method}`);
      try {
        return await s3[method](params).promise();
      } catch (error) {
        // osls wraps SDK errors this way (the plugin reads providerError.statusCode).
        const wrapped = new Error(error.message);
        wrapped.providerError = error;
        throw wrapped;
      }
    },
    naming: { getStackName: () => 'unused' },
  };
  return {
    serviceDir,
    service: {
      provider: {},
      custom: {
        glueAssets: {
          script: 'glue/mhealth_job.py',
          library: 'mhealth',
          include: ['__init__.py'],
          prefix: 'glue-assets/',
          bucketOutput: 'DataBucketName',
          supersededTag: 'superseded',
        },
      },
    },
    classes: { Error },
    getProvider: () => provider,
  };
}

async function main() {
  for (const [index, text] of scripts.entries()) {
    const serviceDir = path.join(workDir, `deploy-${index}`);
    fs.mkdirSync(path.join(serviceDir, 'glue'), { recursive: true });
    fs.mkdirSync(path.join(serviceDir, 'mhealth'), { recursive: true });
    fs.writeFileSync(path.join(serviceDir, 'glue', 'mhealth_job.py'), text);
    fs.writeFileSync(path.join(serviceDir, 'mhealth', '__init__.py'), '"""library"""\n');
    const plugin = new GlueAssetsPlugin(framework(serviceDir), {}, {});
    await plugin.writePackagedAssets();
    const manifest = plugin.readManifest();
    await plugin.upload(bucket, manifest);
    await plugin.supersede(bucket, manifest);
    const [script, library] = manifest.objects.map((o) => o.key);
    process.stdout.write(`${JSON.stringify({ script, library })}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
