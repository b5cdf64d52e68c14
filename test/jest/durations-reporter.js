/**
 * Prints how long every test file took, slowest first, after the run: where CI's time goes, and which
 * files come close to their timeouts on a busy machine.
 */
const path = require('path');

class DurationsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.files = [];
  }

  onTestResult(test, result) {
    const seconds = (result.perfStats.end - result.perfStats.start) / 1000;
    this.files.push({
      file: path.relative(this.rootDir, test.path),
      seconds,
      failed: result.numFailingTests > 0,
    });
  }

  onRunComplete() {
    if (this.files.length === 0) return;
    const rows = this.files
      .sort((a, b) => b.seconds - a.seconds)
      .map((f) => `${f.seconds.toFixed(1).padStart(8)} s  ${f.file}${f.failed ? '  (failed)' : ''}`);
    const total = this.files.reduce((sum, f) => sum + f.seconds, 0);
    process.stdout.write(`\nTest file durations (sum ${total.toFixed(0)} s):\n${rows.join('\n')}\n`);
  }
}

module.exports = DurationsReporter;
