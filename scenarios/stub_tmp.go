package scenarios

import "context"

type Lab struct{}

func startMTA(ctx context.Context, l *Lab, a *Agent) (labAgent, error) { return nil, nil }
func startMDA(ctx context.Context, l *Lab, a *Agent) (labAgent, error) { return nil, nil }
func startMUA(ctx context.Context, l *Lab, a *Agent) (labAgent, error) { return nil, nil }
