// The planner tools: draw, drop a file, measure, print (filled by the planner work).
