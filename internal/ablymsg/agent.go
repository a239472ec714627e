package ablymsg

import (
	"encoding/json"
	"fmt"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// Agent returns the ably.Message of an agent message. Its data is a map,
// so that ably-go's REST client sends it as a JSON string with encoding
// "json", as ably-js does, and every reader decodes the same object.
func Agent(m workflows.AgentMessage) (*ably.Message, error) {
	b, err := json.Marshal(m.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: encode data: %w", m.Name, err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("%s: data is not a JSON object: %w", m.Name, err)
	}
	headers := make(map[string]any, len(m.Headers))
	for k, v := range m.Headers {
		headers[k] = v
	}
	return &ably.Message{
		ID:     m.ID,
		Name:   m.Name,
		Data:   data,
		Extras: map[string]any{workflows.ExtrasHeaders: headers},
	}, nil
}
