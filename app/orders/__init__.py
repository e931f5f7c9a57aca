"""Acting for a customer: the shop backend port, its rules, the demo order history and the tools."""
