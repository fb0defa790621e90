/**
 * JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): one
 * <testsuite> per test file, one <testcase> per case, a <failure> holding
 * the diff of each failed case. Everything written is escaped, and
 * characters XML 1.0 cannot carry are replaced.
 */
import { counts, failureText, type SuiteResult } from './report.js';

// Tab, LF, CR and everything from U+0020 on is allowed, except surrogates (handled by the u flag) and U+FFFE/U+FFFF.
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(text: string): string {
  return text
    .replace(NOT_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function junitXml(suites: readonly SuiteResult[]): string {
  const total = counts(suites);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="kestra-authz policy tests" tests="${total.passed + total.failed}" failures="${total.failed}" errors="0">`,
  ];
  for (const suite of suites) {
    const c = counts([suite]);
    out.push(`  <testsuite name="${xmlEscape(suite.file)}" tests="${c.passed + c.failed}" failures="${c.failed}" errors="0" skipped="0">`);
    out.push(`    <properties><property name="config" value="${xmlEscape(suite.configSource)}"/></properties>`);
    for (const r of suite.results) {
      const attrs = `name="${xmlEscape(r.case.name)}" classname="${xmlEscape(suite.file)}"${r.case.line === undefined ? '' : ` line="${r.case.line}"`}`;
      if (r.passed) {
        out.push(`    <testcase ${attrs}/>`);
        continue;
      }
      const first = r.mismatches[0];
      const message = first ? `${first.field}: expected ${first.expected}, got ${first.actual}` : 'failed';
      out.push(`    <testcase ${attrs}>`);
      out.push(`      <failure message="${xmlEscape(message)}" type="policy-mismatch">${xmlEscape(failureText(r))}</failure>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
