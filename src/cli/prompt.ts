/** Asks for a password on the terminal without echoing it (masked with *). */
export async function askPassword(question: string): Promise<string> {
  // Loaded only when a prompt is shown: it is the heaviest module qtool has.
  const { default: password } = await import('@inquirer/password');
  try {
    return await password({ message: question, mask: '*' }, { output: process.stderr });
  } catch (error) {
    // Ctrl-C at the prompt: inquirer rejects with ExitPromptError.
    if ((error as Error).name === 'ExitPromptError') process.exit(130);
    throw error;
  }
}
