package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/scenarios"
)

func newScenariosCmd(s streams, g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "scenarios",
		Short: "List the scenarios that ship with maillab",
		Long: `List the scenarios embedded in maillab, each with a one-line description.
Run one with "maillab run NAME"; the default is marked with *.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list := scenarios.List()
			if asJSON {
				if err := json.NewEncoder(s.out).Encode(list); err != nil {
					return withCode(exitRuntime, err)
				}
				return nil
			}
			for _, info := range list {
				mark := " "
				if info.Name == scenarios.Default {
					mark = "*"
				}
				fmt.Fprintf(s.out, "%s %-20s %s\n", mark, info.Name, info.Description)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}
