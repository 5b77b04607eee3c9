/** Global setup of project e2e when AMQP_URL is set: see global-setup.ts. */
import type { TestProject } from 'vitest/node';
import { provideEnvBroker } from './global-setup.js';

export default (project: TestProject) => provideEnvBroker(project);
