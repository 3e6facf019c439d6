'use strict';

/**
 * Refuses to package a deployment stage whose download source is not one the code knows.
 *
 * serverless.yml sets custom.downloadSource from the stage's `downloadSource` parameter and lists
 * the accepted values in custom.downloadSources (kaggle, uci, none). A typo there would otherwise
 * deploy fine and fail only when the Download Lambda first runs; this check makes `sls package`
 * and `sls deploy` stop at once with a message naming the value and the choices.
 */

class DownloadSourcePlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:initialize': () => this.check(),
    };
  }

  check() {
    const custom = this.serverless.service.custom || {};
    const allowed = custom.downloadSources || [];
    const value = custom.downloadSource;
    if (!allowed.includes(value)) {
      throw new this.serverless.classes.Error(
        `downloadSource ${JSON.stringify(value)} is not one of ${allowed.join(', ')}: set the ` +
          'stage\'s downloadSource parameter in serverless.yml (params) or pass ' +
          '--param="downloadSource=kaggle|uci|none"'
      );
    }
  }
}

module.exports = DownloadSourcePlugin;
