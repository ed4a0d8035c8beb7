// Evaluates IAM requests for the local stack's gate with @cloud-copilot/iam-simulate.
// stdin: one JSON request per line {id, policy, action, resource, account, context};
// stdout: one JSON answer per line {id, result, errors?}. result is "Allowed",
// "ImplicitlyDenied", "ExplicitlyDenied" or "Error".
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let answer
  try {
    const request = JSON.parse(line)
    const response = await runSimulation(
      {
        identityPolicies: [{ name: request.role || 'role', policy: request.policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: {
          action: request.action,
          principal: request.principal,
          resource: { resource: request.resource, accountId: request.account },
          contextVariables: request.context || {}
        }
      },
      {}
    )
    answer =
      response.resultType === 'error'
        ? { id: request.id, result: 'Error', errors: response.errors }
        : { id: request.id, result: response.overallResult }
  } catch (error) {
    answer = { id: null, result: 'Error', errors: String(error) }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
}
