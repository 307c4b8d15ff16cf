package httpapi

import (
	"net/http"

	"github.com/certdock/certdock/internal/auth"
)

// workflowRoutes: approval workflows: definitions, instances and certificate requests (issue 6).
// Signals, Approve and Deny need only the read permission here: the
// workflow itself checks that the caller holds an approving role of the
// current step and is not the requester (docs/workflow.md).
func (a *API) workflowRoutes() []Route {
	if a.o.Workflow == nil {
		return nil
	}
	return []Route{
		{http.MethodGet, "/Workflow/Definitions", auth.WorkflowDefinitionsRead, a.listWorkflowDefinitions},
		{http.MethodPost, "/Workflow/Definitions", auth.WorkflowDefinitionsModify, a.postWorkflowDefinition},
		{http.MethodGet, "/Workflow/Definitions/Types", auth.WorkflowDefinitionsRead, a.listWorkflowTypes},
		{http.MethodGet, "/Workflow/Definitions/Steps", auth.WorkflowDefinitionsRead, a.listWorkflowStepTypes},
		{http.MethodGet, "/Workflow/Definitions/{id}", auth.WorkflowDefinitionsRead, a.getWorkflowDefinition},
		{http.MethodPut, "/Workflow/Definitions/{id}", auth.WorkflowDefinitionsModify, a.putWorkflowDefinition},
		{http.MethodDelete, "/Workflow/Definitions/{id}", auth.WorkflowDefinitionsModify, a.deleteWorkflowDefinition},
		{http.MethodPut, "/Workflow/Definitions/{id}/Steps", auth.WorkflowDefinitionsModify, a.putWorkflowSteps},
		{http.MethodPost, "/Workflow/Definitions/{id}/Publish", auth.WorkflowDefinitionsModify, a.publishWorkflowDefinition},

		{http.MethodGet, "/Workflow/Instances", auth.WorkflowsRead, a.listWorkflowInstances},
		{http.MethodGet, "/Workflow/Instances/My", auth.PortalRead, a.listMyWorkflowInstances},
		{http.MethodGet, "/Workflow/Instances/AssignedToMe", auth.WorkflowsRead, a.listAssignedWorkflowInstances},
		{http.MethodGet, "/Workflow/Instances/{id}", auth.WorkflowsRead, a.getWorkflowInstance},
		{http.MethodPost, "/Workflow/Instances/{id}/Signals", auth.WorkflowsRead, a.postWorkflowSignal},
		{http.MethodPost, "/Workflow/Instances/{id}/Stop", auth.WorkflowsManage, a.stopWorkflowInstance},
		{http.MethodPost, "/Workflow/Instances/{id}/Restart", auth.WorkflowsManage, a.restartWorkflowInstance},

		{http.MethodGet, "/Workflow/Certificates/Pending", auth.WorkflowsRead, a.listPendingRequests},
		{http.MethodGet, "/Workflow/Certificates/Denied", auth.WorkflowsRead, a.listDeniedRequests},
		{http.MethodGet, "/Workflow/Certificates/ExternalValidation", auth.WorkflowsRead, a.listExternalValidationRequests},
		{http.MethodGet, "/Workflow/Certificates/{id}", auth.WorkflowsRead, a.getWorkflowRequest},
		{http.MethodPost, "/Workflow/Certificates/Approve", auth.WorkflowsRead, a.approveRequests},
		{http.MethodPost, "/Workflow/Certificates/Deny", auth.WorkflowsRead, a.denyRequests},
	}
}
