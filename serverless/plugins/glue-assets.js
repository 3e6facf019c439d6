'use strict';

/**
 * Ships the Glue job's script and the `mhealth` library (its --extra-py-files zip) with every deploy.
 *
 * Glue reads both from S3 at the start of each run, so they must be in the data bucket, and a changed
 * script or library must reach the next run. Each object's key therefore carries a hash of its
 * content, and serverless.yml refers to the keys through this plugin's variable source:
 *
 *   ${glueAssets:scriptKey}   e.g. glue-assets/jobs/mhealth_job-3f1c0a9e5b7d2c41.py
 *   ${glueAssets:libraryKey}  e.g. glue-assets/lib/mhealth-8d0e6b1f9a2c4e73.zip
 *
 * A changed file means a new key, hence a changed Glue job definition in the template, hence an
 * update CloudFormation cannot skip; an unchanged file keeps its key and is not uploaded again.
 *
 * Lifecycle:
 *   package  builds the two objects into .serverless/glue-assets/ with a manifest.json naming their
 *            keys (the same bytes the keys were hashed from), so `sls deploy --package DIR` ships
 *            exactly what was packaged.
 *   deploy   uploads them into the data bucket (found through the stack output named by
 *            custom.glueAssets.bucketOutput): before the stack update when the stack already exists,
 *            so the updated job never points at a missing object, and after it in every case (the
 *            bucket does not exist before the first deploy). Objects of earlier deploys under the
 *            same prefixes are kept, so that `sls rollback` (an earlier template, naming earlier
 *            keys) finds its script and library: after a successful update each of them gets the
 *            tag <supersededTag>=true, and is copied onto itself meanwhile so that its age (what
 *            S3 lifecycle rules count) starts at its supersession; the bucket's lifecycle rule
 *            for that tag expires it some days later. An object that becomes current again (a
 *            deploy of earlier sources) loses the tag.
 *   rollback after `sls rollback`, the objects the Glue job now names (custom.glueAssets.jobOutput,
 *            the stack output with the job's name) lose the tag.
 *
 * All AWS calls go through provider.request, so serverless-localstack redirects them on the local
 * stage like the rest of the deploy.
 *
 * Settings (custom.glueAssets): script (the job script), library (the package folder zipped with
 * its folder name at the zip root), include (optional: the library paths to ship, a trailing "/"
 * for a folder), prefix (the data bucket's prefix for Glue assets, read from
 * mhealth/core/s3_layout.json), bucketOutput (the stack output holding the data bucket's name),
 * supersededTag (the tag key marking objects of earlier deploys; default "superseded"), jobOutput
 * (optional: the stack output holding the Glue job's name, for rollbacks).
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const yazl = require('yazl');

const MANIFEST = 'manifest.json';
const ASSETS_DIR = 'glue-assets';
const HASH_LENGTH = 16;
/** A fixed timestamp for zip entries, so the same sources always give the same zip bytes. */
const ZIP_MTIME = new Date('2000-01-01T00:00:00Z');
const SKIPPED_DIRS = new Set(['__pycache__']);
const SKIPPED_SUFFIXES = ['.pyc', '.pyo'];

function sha256(...parts) {
  const digest = crypto.createHash('sha256');
  for (const part of parts) {
    digest.update(part);
    digest.update('\0');
  }
  return digest.digest('hex');
}

/**
 * Files under `root`, sorted, as [posix path relative to root's parent, absolute path]. With
 * `include` (paths relative to root; a trailing "/" means a whole folder), only those.
 */
function listLibraryFiles(root, include) {
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const absolute = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(absolute);
      } else if (entry.isFile() && !SKIPPED_SUFFIXES.some((s) => entry.name.endsWith(s))) {
        const relative = path.relative(path.dirname(root), absolute).split(path.sep).join('/');
        files.push([relative, absolute]);
      }
    }
  };
  walk(root);
  const wanted = (relative) => {
    if (!include) return true;
    const inside = relative.slice(path.basename(root).length + 1);
    return include.some((entry) =>
      entry.endsWith('/') ? inside.startsWith(entry) : inside === entry
    );
  };
  if (include) {
    for (const entry of include) {
      if (!fs.existsSync(path.join(root, entry))) {
        throw new Error(`custom.glueAssets.include: ${entry} does not exist in the library`);
      }
    }
  }
  return files.filter(([relative]) => wanted(relative)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function zipBuffer(files) {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    for (const [name, content] of files) {
      zip.addBuffer(content, name, { mtime: ZIP_MTIME, mode: 0o100644 });
    }
    zip.end();
    const chunks = [];
    zip.outputStream.on('data', (chunk) => chunks.push(chunk));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

class GlueAssetsPlugin {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.options = options || {};
    this.log = log || { notice() {}, info() {}, warning() {} };
    this.provider = serverless.getProvider('aws');
    this.assetsPromise = null;

    this.configurationVariablesSources = {
      glueAssets: {
        resolve: async ({ address, resolveConfigurationProperty }) => {
          const settings = await resolveConfigurationProperty(['custom', 'glueAssets']);
          const assets = await this.assets(settings);
          if (address === 'scriptKey') return { value: assets.script.key };
          if (address === 'libraryKey') return { value: assets.library.key };
          throw new this.serverless.classes.Error(
            `Unknown glueAssets variable "${address}": use scriptKey or libraryKey`
          );
        },
      },
    };

    this.hooks = {
      'after:package:createDeploymentArtifacts': () => this.writePackagedAssets(),
      'after:aws:deploy:deploy:uploadArtifacts': () => this.uploadIfStackExists(),
      'after:deploy:deploy': () => this.uploadAndSupersede(),
      'after:rollback:rollback': () => this.keepRolledBackAssets(),
    };
  }

  settings() {
    const custom = this.serverless.service.custom || {};
    return this.validateSettings(custom.glueAssets);
  }

  validateSettings(settings) {
    const missing = ['script', 'library', 'prefix', 'bucketOutput'].filter(
      (name) => !settings || typeof settings[name] !== 'string' || settings[name] === ''
    );
    if (missing.length > 0) {
      throw new this.serverless.classes.Error(
        `custom.glueAssets is missing ${missing.join(', ')} (see serverless/plugins/glue-assets.js)`
      );
    }
    return settings;
  }

  /** Reads the sources once per command and derives both objects and their keys from those bytes. */
  assets(rawSettings) {
    if (!this.assetsPromise) {
      this.assetsPromise = this.buildAssets(this.validateSettings(rawSettings));
    }
    return this.assetsPromise;
  }

  async buildAssets(settings) {
    const serviceDir = this.serverless.serviceDir;
    const scriptPath = path.resolve(serviceDir, settings.script);
    const libraryRoot = path.resolve(serviceDir, settings.library);
    if (!fs.existsSync(scriptPath)) {
      throw new this.serverless.classes.Error(`Glue job script ${settings.script} not found`);
    }
    if (!fs.existsSync(path.join(libraryRoot, '__init__.py'))) {
      throw new this.serverless.classes.Error(
        `Glue library ${settings.library} is not a Python package (no __init__.py)`
      );
    }
    const script = fs.readFileSync(scriptPath);
    if (settings.include !== undefined && !Array.isArray(settings.include)) {
      throw new this.serverless.classes.Error('custom.glueAssets.include must be a list of paths');
    }
    const libraryFiles = listLibraryFiles(libraryRoot, settings.include).map(([name, absolute]) => [
      name,
      fs.readFileSync(absolute),
    ]);
    const libraryHash = sha256(...libraryFiles.flatMap(([name, content]) => [name, content]));
    const scriptHash = sha256(script);
    const scriptStem = path.basename(settings.script, path.extname(settings.script));
    const libraryName = path.basename(libraryRoot);
    return {
      prefix: settings.prefix,
      script: {
        key: `${settings.prefix}jobs/${scriptStem}-${scriptHash.slice(0, HASH_LENGTH)}.py`,
        sha256: scriptHash,
        contentType: 'text/x-python',
        body: script,
      },
      library: {
        key: `${settings.prefix}lib/${libraryName}-${libraryHash.slice(0, HASH_LENGTH)}.zip`,
        sha256: libraryHash,
        contentType: 'application/zip',
        body: await zipBuffer(libraryFiles),
        files: libraryFiles.length,
      },
    };
  }

  assetsDir() {
    // Packaging always writes to <service>/.serverless (osls moves it to --package DIR afterwards,
    // and copies it back before a `deploy --package DIR`).
    return path.join(this.serverless.serviceDir, '.serverless', ASSETS_DIR);
  }

  async writePackagedAssets() {
    const assets = await this.assets(this.settings());
    const dir = this.assetsDir();
    fs.mkdirSync(dir, { recursive: true });
    const manifest = { prefix: assets.prefix, objects: [] };
    for (const object of [assets.script, assets.library]) {
      const file = path.basename(object.key);
      fs.writeFileSync(path.join(dir, file), object.body);
      manifest.objects.push({
        key: object.key,
        file,
        sha256: object.sha256,
        contentType: object.contentType,
      });
    }
    fs.writeFileSync(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    this.log.info(
      `Glue assets: ${assets.script.key}, ${assets.library.key} (${assets.library.files} files)`
    );
  }

  readManifest() {
    const file = path.join(this.assetsDir(), MANIFEST);
    if (!fs.existsSync(file)) {
      throw new this.serverless.classes.Error(
        `No Glue assets in the package (${file} is missing): package with this plugin enabled`
      );
    }
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  }

  async stackOutput(name) {
    const stackName = this.provider.naming.getStackName();
    let stacks;
    try {
      ({ Stacks: stacks } = await this.provider.request('CloudFormation', 'describeStacks', {
        StackName: stackName,
      }));
    } catch (error) {
      if (String(error.message).includes('does not exist')) return null;
      throw error;
    }
    const output = ((stacks[0] && stacks[0].Outputs) || []).find((o) => o.OutputKey === name);
    return output ? output.OutputValue : null;
  }

  async dataBucket() {
    return this.stackOutput(this.settings().bucketOutput);
  }

  supersededTag() {
    return this.settings().supersededTag || 'superseded';
  }

  async uploadIfStackExists() {
    if (this.serverless.service.provider.shouldNotDeploy) return;
    const bucket = await this.dataBucket();
    if (bucket) await this.upload(bucket, this.readManifest());
  }

  async uploadAndSupersede() {
    const bucket = await this.dataBucket();
    if (!bucket) {
      throw new this.serverless.classes.Error(
        `The stack has no "${this.settings().bucketOutput}" output: cannot upload the Glue assets`
      );
    }
    const manifest = this.readManifest();
    await this.upload(bucket, manifest);
    await this.supersede(bucket, manifest);
  }

  async upload(bucket, manifest) {
    for (const object of manifest.objects) {
      if (await this.isUploaded(bucket, object)) {
        await this.markCurrent(bucket, object.key);
        this.log.info(`Glue asset s3://${bucket}/${object.key} is up to date`);
        continue;
      }
      await this.provider.request('S3', 'putObject', {
        Bucket: bucket,
        Key: object.key,
        Body: fs.readFileSync(path.join(this.assetsDir(), object.file)),
        ContentType: object.contentType,
        Metadata: { 'content-sha256': object.sha256 },
      });
      this.log.notice(`Uploaded Glue asset s3://${bucket}/${object.key}`);
    }
  }

  async isUploaded(bucket, object) {
    try {
      const head = await this.provider.request('S3', 'headObject', {
        Bucket: bucket,
        Key: object.key,
      });
      return Boolean(head.Metadata && head.Metadata['content-sha256'] === object.sha256);
    } catch (error) {
      if (error.providerError && error.providerError.statusCode === 404) return false;
      throw error;
    }
  }

  async isSuperseded(bucket, key) {
    const { TagSet: tags } = await this.provider.request('S3', 'getObjectTagging', {
      Bucket: bucket,
      Key: key,
    });
    return (tags || []).some((t) => t.Key === this.supersededTag() && t.Value === 'true');
  }

  /** An object a template names again must not expire: drop the superseded tag if it has it. */
  async markCurrent(bucket, key) {
    if (await this.isSuperseded(bucket, key)) {
      await this.provider.request('S3', 'deleteObjectTagging', { Bucket: bucket, Key: key });
      this.log.notice(`Glue asset s3://${bucket}/${key} is current again`);
    }
  }

  /** Tags the assets of earlier deploys (only keys under our two sub-prefixes, never the current
   * ones); each is copied onto itself so that lifecycle expiration counts from now. */
  async supersede(bucket, manifest) {
    const current = new Set(manifest.objects.map((o) => o.key));
    const earlier = [];
    for (const sub of ['jobs/', 'lib/']) {
      let token;
      do {
        const page = await this.provider.request('S3', 'listObjectsV2', {
          Bucket: bucket,
          Prefix: `${manifest.prefix}${sub}`,
          ContinuationToken: token,
        });
        for (const item of page.Contents || []) {
          if (!current.has(item.Key)) earlier.push(item.Key);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
    let tagged = 0;
    for (const key of earlier) {
      if (await this.isSuperseded(bucket, key)) continue; // keeps its first supersession date
      const head = await this.provider.request('S3', 'headObject', { Bucket: bucket, Key: key });
      await this.provider.request('S3', 'copyObject', {
        Bucket: bucket,
        Key: key,
        CopySource: `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
        // S3 copies an object onto itself only with new metadata: the same, replaced.
        MetadataDirective: 'REPLACE',
        Metadata: head.Metadata || {},
        ContentType: head.ContentType,
        TaggingDirective: 'REPLACE',
        Tagging: `${encodeURIComponent(this.supersededTag())}=true`,
      });
      tagged += 1;
    }
    if (tagged > 0) {
      this.log.info(`Tagged ${tagged} Glue asset(s) of earlier deploys ${this.supersededTag()}=true`);
    }
  }

  /** After `sls rollback`: the script and library the restored job names are current again. */
  async keepRolledBackAssets() {
    const jobOutput = this.settings().jobOutput;
    if (!jobOutput) return;
    const bucket = await this.dataBucket();
    const jobName = await this.stackOutput(jobOutput);
    if (!bucket || !jobName) return;
    const { Job: job } = await this.provider.request('Glue', 'getJob', { JobName: jobName });
    const locations = [
      job.Command && job.Command.ScriptLocation,
      job.DefaultArguments && job.DefaultArguments['--extra-py-files'],
    ];
    for (const location of locations) {
      const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(String(location || ''));
      if (match && match[1] === bucket) await this.markCurrent(bucket, match[2]);
    }
  }
}

module.exports = GlueAssetsPlugin;
