package server

import (
	"errors"

	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/enroll"
)

// newDirectory builds the LDAP directory for PopulateMissingValuesFromAD.
func newDirectory(c config.SetupDirectory) (enroll.Directory, error) {
	return nil, errors.New("LDAP directory support is not built yet")
}
