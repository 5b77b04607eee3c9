/** Global setup of project e2e-4.0: see global-setup.ts. */
import type { TestProject } from 'vitest/node';
import { provideBrokerOf } from './global-setup.js';

export default (project: TestProject) => provideBrokerOf(project, '4.0');
