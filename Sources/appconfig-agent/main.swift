import AgentCore
AgentMain.run()
