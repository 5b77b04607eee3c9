/** Global setup of project e2e-3.10: see global-setup.ts. */
import type { TestProject } from 'vitest/node';
import { provideBrokerOf } from './global-setup.js';

export default (project: TestProject) => provideBrokerOf(project, '3.10');
