'use strict';

/**
 * Builds this service's Lambda layers before packaging, and lets `sls package` run offline.
 *
 * Every layer in serverless.yml's `layers:` whose path is build/layers/NAME is built by
 * scripts/build_lambda_layers.py (pip with --platform manylinux2014_x86_64 --only-binary=:all:,
 * so no Docker), which does nothing when the layer is already up to date. The Python running it is
 * $MHEALTH_BUILD_PYTHON, else the project's .venv/bin/python, else python3.
 *
 * Offline packaging: when a service defines layers, osls asks CloudFormation for the last deployed
 * layer hashes (to skip re-uploading unchanged layers), which needs AWS credentials. Without any
 * credentials there can be no deployed stack to compare with, so this plugin lets that comparison
 * treat the stack as new instead of failing: `sls package` then works in CI with no AWS account.
 * With credentials nothing changes.
 *
 * The AWS SDK for pandas managed layer has another version number in each region: the variable
 * ${pandasLayer:arn} is its ARN for provider.region, from serverless/pandas-layers.json, and
 * resolving it fails with a clear message for a region the map does not hold.
 */

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const LAYER_ROOT = path.join('build', 'layers');
const PANDAS_LAYERS = path.join('serverless', 'pandas-layers.json');

class LambdaLayersPlugin {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.log = log || { notice() {}, info() {}, warning() {} };
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.buildLayers(),
      'before:package:compileLayers': () => this.allowOfflineLayerComparison(),
    };
    this.configurationVariablesSources = {
      pandasLayer: {
        resolve: async ({ address, resolveConfigurationProperty }) => {
          if (address !== 'arn') {
            throw new this.serverless.classes.Error(
              `Unknown pandasLayer variable "${address}": use \${pandasLayer:arn}`
            );
          }
          const region = await resolveConfigurationProperty(['provider', 'region']);
          return { value: this.pandasLayerArn(region) };
        },
      },
    };
  }

  /** The AWS SDK for pandas layer ARN for `region`, or a clear error naming what to do. */
  pandasLayerArn(region) {
    const file = path.join(this.serverless.serviceDir, PANDAS_LAYERS);
    const map = JSON.parse(fs.readFileSync(file, 'utf8'));
    const entry = (map.regions || {})[region];
    if (!entry || typeof entry.arn !== 'string') {
      const known = Object.keys(map.regions || {}).sort().join(', ');
      throw new this.serverless.classes.Error(
        `No AWS SDK for pandas layer (${map.layer}) known for region ${region} in ${PANDAS_LAYERS} ` +
          `(known: ${known}). Look its ARN up at ${map.source} (Python 3.12, x86_64) and add ` +
          `it to ${PANDAS_LAYERS}.`
      );
    }
    return entry.arn;
  }

  /** Names of the layers that live under build/layers/ (the ones our script builds). */
  builtLayerNames() {
    const layers = this.serverless.service.layers || {};
    return Object.values(layers)
      .map((layer) => path.normalize(String(layer.path || '')))
      .filter((layerPath) => path.dirname(layerPath) === LAYER_ROOT)
      .map((layerPath) => path.basename(layerPath));
  }

  python() {
    if (process.env.MHEALTH_BUILD_PYTHON) return process.env.MHEALTH_BUILD_PYTHON;
    const venvPython = path.join(this.serverless.serviceDir, '.venv', 'bin', 'python');
    return fs.existsSync(venvPython) ? venvPython : 'python3';
  }

  buildLayers() {
    const names = this.builtLayerNames();
    if (names.length === 0) return;
    const script = path.join(this.serverless.serviceDir, 'scripts', 'build_lambda_layers.py');
    const python = this.python();
    const result = spawnSync(
      python,
      [script, '--out', path.join(this.serverless.serviceDir, LAYER_ROOT), ...names],
      { cwd: this.serverless.serviceDir, encoding: 'utf8' }
    );
    if (result.error) {
      throw new this.serverless.classes.Error(
        `Cannot run ${python} to build the Lambda layers: ${result.error.message}`
      );
    }
    if (result.status !== 0) {
      throw new this.serverless.classes.Error(
        `Building the Lambda layers failed (exit ${result.status}):\n${result.stdout}${result.stderr}`
      );
    }
    for (const line of result.stdout.split('\n').filter(Boolean)) this.log.info(line);
  }

  allowOfflineLayerComparison() {
    const compiler = this.serverless.pluginManager.plugins.find(
      (plugin) => plugin.constructor.name === 'AwsCompileLayers'
    );
    if (!compiler || compiler.compareWithLastLayer.offlineAware) return;
    const original = compiler.compareWithLastLayer.bind(compiler);
    const log = this.log;
    const offlineAware = async (layerName) => {
      try {
        return await original(layerName);
      } catch (error) {
        if (error.code !== 'AWS_CREDENTIALS_NOT_FOUND') throw error;
        log.info(`No AWS credentials: layer ${layerName} is packaged as for a first deploy`);
        return undefined;
      }
    };
    offlineAware.offlineAware = true;
    compiler.compareWithLastLayer = offlineAware;
  }
}

module.exports = LambdaLayersPlugin;
