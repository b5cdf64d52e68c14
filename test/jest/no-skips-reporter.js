/**
 * Fails the jest run when any test was skipped or left as a todo: in this project a test that cannot run
 * (missing data, missing tool) is a failure to fix, never a silent pass. The README's test command and CI
 * both run jest with this reporter.
 */
class NoSkipsReporter {
  constructor() {
    this.skipped = [];
  }

  onTestResult(test, result) {
    for (const t of result.testResults) {
      if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo' || t.status === 'disabled')
        this.skipped.push(`${test.path}: ${t.fullName} (${t.status})`);
    }
  }

  onRunComplete() {
    if (this.skipped.length === 0) return;
    process.stderr.write(
      `\n${this.skipped.length} test(s) skipped; skips count as failures here:\n  ${this.skipped.join('\n  ')}\n`,
    );
  }

  getLastError() {
    if (this.skipped.length > 0) return new Error(`${this.skipped.length} skipped test(s)`);
    return undefined;
  }
}

module.exports = NoSkipsReporter;
