"""CloudFormation resource types LocalStack's open release lacks (AWS::Glue::*)."""
