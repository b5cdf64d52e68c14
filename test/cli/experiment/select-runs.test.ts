import { selectRuns } from '../../../packages/cli/src/commands/experiment';
import { parseExperimentSpec, planStudy } from '../../../packages/cli/src/experiment';

const plan = planStudy(
  parseExperimentSpec({
    name: 'batches',
    preset: 'quick',
    configurations: [
      { label: 'AT', set: { peers: 1 } },
      { label: 'MAT', set: { peers: 2 } },
    ],
    grid: { 'train.epochs': [2, 10] },
    seeds: [1, 2],
  }),
);

describe('mat experiment --only: a batch of the study', () => {
  it('takes the runs whose names match a pattern, in the plan order; * matches anything', () => {
    expect(selectRuns(plan, undefined)).toHaveLength(8);
    expect(selectRuns(plan, ['*-s1']).map((r) => r.name)).toEqual([
      'AT-epochs2-s1',
      'AT-epochs10-s1',
      'MAT-epochs2-s1',
      'MAT-epochs10-s1',
    ]);
    expect(selectRuns(plan, ['MAT-epochs10-s2', 'AT-*2-s2']).map((r) => r.name)).toEqual([
      'AT-epochs2-s2',
      'MAT-epochs10-s2',
    ]);
  });

  it('reads a pattern literally but for *, and names the runs when nothing matches', () => {
    expect(() => selectRuns(plan, ['AT.epochs2-s1'])).toThrow(/matches none of the runs: AT-epochs2-s1, /);
    expect(() => selectRuns(plan, ['(x|AT-epochs2-s1)'])).toThrow(/matches none/);
  });
});
